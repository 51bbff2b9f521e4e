/* SPDX-License-Identifier: MIT */
/* The one-page report's script and style sheet, built into the program from html_page.js and html_page.css (the Makefile names them as this file's inputs). */

/* Each file's bytes and a NUL: the page is written from the program alone,
 * with nothing to find at run time. */
__asm__(".section .rodata\n"
	".global pst_html_js\n"
	".type pst_html_js, @object\n"
	"pst_html_js:\n"
	".incbin \"analyzer/output/html_page.js\"\n"
	".byte 0\n"
	".global pst_html_css\n"
	".type pst_html_css, @object\n"
	"pst_html_css:\n"
	".incbin \"analyzer/output/html_page.css\"\n"
	".byte 0\n"
	".previous\n");
