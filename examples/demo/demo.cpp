// Placeholder: the flagship demo is written separately and replaces this file.
#include <cstdio>

int main() {
  std::puts("demo");
  return 0;
}
