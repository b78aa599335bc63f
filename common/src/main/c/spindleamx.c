/*
 * Spindle's AMX enabler (io.spindle.runtime.Amx): the two things oneDNN 2.3 inside libnd4j needs
 * before it may run its AMX kernels, done from inside the JVM with nothing installed on the host.
 *  - Linux (>= 5.16) lets a process use AMX tile data only after it asked for it:
 *    arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). The permission is process-wide.
 *  - oneDNN 2.3 limits itself to AVX512_CORE_BF16 unless DNNL_MAX_CPU_ISA says otherwise; it reads
 *    the variable with getenv() at its first ISA query, so setenv() must come before that.
 * Built by the common module's POM with gcc (JNI, no other dependency) into the jar; Linux x86-64.
 */
#include <jni.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

/* 0 when the process may use AMX tile data (now or already), else errno of the request. */
JNIEXPORT jint JNICALL Java_io_spindle_runtime_Amx_requestTileData(JNIEnv *env, jclass cls) {
  (void) env;
  (void) cls;
  if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
    return errno == 0 ? -1 : errno;
  }
  unsigned long bits = 0;
  if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) != 0) {
    return errno == 0 ? -1 : errno;
  }
  return (bits & (1UL << XFEATURE_XTILEDATA)) ? 0 : -1;
}

/* setenv(name, value, 1) in the C library's environment (what getenv() in native code reads). */
JNIEXPORT jint JNICALL Java_io_spindle_runtime_Amx_setenv(
    JNIEnv *env, jclass cls, jstring name, jstring value) {
  (void) cls;
  const char *n = (*env)->GetStringUTFChars(env, name, NULL);
  const char *v = (*env)->GetStringUTFChars(env, value, NULL);
  int r = (n && v) ? setenv(n, v, 1) : -1;
  int e = r == 0 ? 0 : (errno == 0 ? -1 : errno);
  if (n) (*env)->ReleaseStringUTFChars(env, name, n);
  if (v) (*env)->ReleaseStringUTFChars(env, value, v);
  return e;
}
