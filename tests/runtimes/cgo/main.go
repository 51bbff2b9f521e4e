// SPDX-License-Identifier: MIT
// A Go program with cgo for the server suite: its C part makes exactly N mallocs of known sizes at one named function, some kept live; it returns from main (quick) or ends with os.Exit(3) after about 2 s of goroutines (long).
package main

/*
#include <stdlib.h>

// Blocks kept live until the process ends: every fourth one.
static void *srv_cgo_kept[1 << 16];
static int srv_cgo_nkept;

// Exactly n mallocs, of 16 + (i % 8) * 16 bytes: every fourth kept live, the rest freed.
// Returns the bytes asked for.
__attribute__((noinline)) long srv_cgo_alloc(int n)
{
	long bytes = 0;

	for (int i = 0; i < n; i++) {
		size_t size = 16 + (size_t)(i % 8) * 16;
		char *p = malloc(size); // LINE:srv_cgo_alloc

		if (!p)
			abort();
		p[0] = (char)i;
		bytes += (long)size;
		if (i % 4 == 0 && srv_cgo_nkept < (int)(sizeof(srv_cgo_kept) / sizeof(srv_cgo_kept[0])))
			srv_cgo_kept[srv_cgo_nkept++] = p;
		else
			free(p);
	}
	return bytes;
}
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cgo quick|long N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "N must be a positive number")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "quick":
		bytes := C.srv_cgo_alloc(C.int(n))
		fmt.Printf("mallocs %d bytes %d\n", n, int64(bytes))
		// returning from main: the runtime ends the process with exit_group, no libc exit
	case "long":
		// 4 goroutines, each calling into C every 100 ms for about 2 s; the
		// last calls come right before os.Exit
		const workers, rounds = 4, 20
		per := n / (workers * rounds)
		if per*workers*rounds != n {
			fmt.Fprintln(os.Stderr, "long: N must be a multiple of 80")
			os.Exit(2)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var total int64
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					time.Sleep(100 * time.Millisecond)
					b := int64(C.srv_cgo_alloc(C.int(per)))
					mu.Lock()
					total += b
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		fmt.Printf("mallocs %d bytes %d\n", n, total)
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "usage: cgo quick|long N")
		os.Exit(2)
	}
}
