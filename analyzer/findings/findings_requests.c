/* SPDX-License-Identifier: MIT */
/* Rules over requests: N+1 bursts, cacheable reads, cache hit ratios, slow shapes. */
#include "requests.h"

int pst_findings_requests(const struct pst_requests *r, const struct pst_req_caching *c,
			  struct pst_findings *out)
{
	(void)r, (void)c, (void)out;
	return 0;
}
