/* SPDX-License-Identifier: MIT */
/* JIT-like code: a loop copied into an anonymous executable mapping and run for about a second of CPU. */
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* mov rcx, 1000000; l: dec rcx; jnz l; ret */
static const unsigned char loop[] = { 0x48, 0xb9, 0x40, 0x42, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00,
				      0x48, 0xff, 0xc9, 0x75, 0xfb, 0xc3 };

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void (*fn)(void);

	if (m == MAP_FAILED)
		return 1;
	memcpy(m, loop, sizeof(loop));
	if (mprotect(m, 4096, PROT_READ | PROT_EXEC))
		return 1;
	fn = (void (*)(void))m;
	while (cpu_s() < 1.0)
		fn();
	return 0;
}
