/* LD_PRELOAD experiments for bench/whatif/run.sh: each switch is the effect of one suggested change to
 * prelaunch, measured end to end on the unmodified binary. Not part of prelaunch.
 *
 *   WHATIF_SHA384_INCREMENTAL=1  one-shot SHA-384 (openssl::sha::sha384 -> openssl-sys's SHA384 ->
 *                                EVP_Q_digest(NULL, "SHA384", ...) on OpenSSL 3: an EVP_MD_fetch per
 *                                call, and the library's lazy initialisation on the first) done as
 *                                SHA384_Init/Update/Final, which is what openssl::sha::Sha384::new/
 *                                update/finish call.
 *   WHATIF_NO_POPULATE=1         mmap without MAP_POPULATE: pages fault in where they are first read
 *                                (the rayon workers), not up front on the main thread.
 *   WHATIF_NO_BIG_MUNMAP=1       munmap of 1 MiB or more is skipped: the exit tears the mapping down.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int SHA384_Init(void *c);
int SHA384_Update(void *c, const void *data, size_t len);
int SHA384_Final(unsigned char *md, void *c);

enum { INCREMENTAL, NO_POPULATE, NO_BIG_MUNMAP, FLAGS };
static const char *const names[FLAGS] = {"WHATIF_SHA384_INCREMENTAL", "WHATIF_NO_POPULATE", "WHATIF_NO_BIG_MUNMAP"};
static int flags_[FLAGS] = {-1, -1, -1};

static int flag(int which) {
    if (flags_[which] < 0) {
        const char *v = getenv(names[which]);
        flags_[which] = v && *v == '1';
    }
    return flags_[which];
}

typedef int (*q_digest_fn)(void *, const char *, const char *, const void *, size_t, unsigned char *, size_t *);

int EVP_Q_digest(void *libctx, const char *name, const char *propq, const void *data, size_t datalen, unsigned char *md,
                 size_t *mdlen) {
    if (flag(INCREMENTAL) && !libctx && !propq && md && name && strcmp(name, "SHA384") == 0) {
        _Alignas(16) unsigned char ctx[256]; /* SHA512_CTX is 216 bytes */
        SHA384_Init(ctx);
        SHA384_Update(ctx, data, datalen);
        SHA384_Final(md, ctx);
        if (mdlen) *mdlen = 48;
        return 1;
    }
    static q_digest_fn real;
    if (!real) real = (q_digest_fn)dlsym(RTLD_NEXT, "EVP_Q_digest");
    return real(libctx, name, propq, data, datalen, md, mdlen);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    if (fd >= 0 && flag(NO_POPULATE)) flags &= ~MAP_POPULATE;
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) __attribute__((alias("mmap")));

int munmap(void *addr, size_t len) {
    if (len >= (1u << 20) && flag(NO_BIG_MUNMAP)) return 0;
    return (int)syscall(SYS_munmap, addr, len);
}
