/* SPDX-License-Identifier: MIT */
/* C++ new/delete: make_nodes news 300 Nodes (56 bytes), make_arrays 20 x new int[100]; all deleted. */
#include <cstdlib>

struct Node {
	long payload[6];
	Node *next;
};

void *volatile sink;

void make_nodes(int n)
{
	for (int i = 0; i < n; i++) {
		Node *x = new Node(); // LINE:make_nodes
		sink = x;
		delete x;
	}
}

void make_arrays(int n)
{
	for (int i = 0; i < n; i++) {
		int *a = new int[100]; // LINE:make_arrays
		sink = a;
		delete[] a;
	}
}

int main()
{
	make_nodes(300);
	make_arrays(20);
	return 0;
}
