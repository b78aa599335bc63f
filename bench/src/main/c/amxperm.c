#include <unistd.h>
#include <sys/syscall.h>
#include <stdio.h>
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
__attribute__((constructor)) static void amx_perm(void) {
  long r = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
  fprintf(stderr, "amxperm: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) = %ld\n", r);
}
