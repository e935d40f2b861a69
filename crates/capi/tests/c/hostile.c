/*
 * hostile.c — IBM's C interface fed what a broken or hostile program passes:
 * NULL pointers in every position, unmapped and read-only addresses, negative and
 * huge counts and lengths, rule arrays shorter than their count and token buffers
 * shorter than their length (both ending at a guard page), output buffers too
 * small; then many threads at once. Every call must come back with IBM's codes;
 * the process must not crash. Exit status 0 when every expectation held.
 *
 * Run against an embedded card (SOFTCCA_HOME, SOFTCCA_MODE=embedded) or a daemon
 * (SOFTCCA_SOCKET); run under valgrind by tests/c_example.rs.
 */
#include <limits.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "csulcca.h"

#define BAD ((void *) 8)

static int failures;

static void expect(const char *what, long rc, long rs, long want_rc, long want_rs)
{
    if (rc != want_rc || rs != want_rs) {
        printf("FAIL %-50s %ld/%ld, expected %ld/%ld\n", what, rc, rs, want_rc, want_rs);
        failures++;
    }
}

/* Any of IBM's return codes: the call answered. */
static void expect_codes(const char *what, long rc, long rs)
{
    if (!(rc == 0 || rc == 4 || rc == 8 || rc == 12 || rc == 16) || rs < 0) {
        printf("FAIL %-50s %ld/%ld\n", what, rc, rs);
        failures++;
    }
}

static void expect_untouched(const char *what, long rs)
{
    if (rs != 12345) {
        printf("FAIL %-50s reason_code written\n", what);
        failures++;
    }
}

static void keywords(unsigned char *rule_array, long *count, const char *words)
{
    char copy[256];
    char *w, *save = NULL;
    *count = 0;
    strncpy(copy, words, sizeof(copy) - 1);
    copy[sizeof(copy) - 1] = 0;
    for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        memset(rule_array + 8 * *count, ' ', 8);
        memcpy(rule_array + 8 * *count, w, strlen(w) > 8 ? 8 : strlen(w));
        (*count)++;
    }
}

/* Two pages, the second inaccessible: page + 4096 - n is an n-byte buffer that ends at
 * the guard page. */
static unsigned char *guarded(void)
{
    unsigned char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p + 4096, 4096, PROT_NONE) != 0) {
        perror("mmap");
        _exit(3);
    }
    return p;
}

static void hash_call(long *rc, long *rs, long *count, unsigned char *rules,
                      long *text_len, unsigned char *text, long *cv_len,
                      unsigned char *cv, long *hash_len, unsigned char *hash)
{
    CSNBOWH(rc, rs, NULL, NULL, count, rules, text_len, text, cv_len, cv, hash_len, hash);
}

static void every_verb(void)
{
    long rc, rs;
#include "every_verb.inc"
}

static void counts_and_lengths(void)
{
    long rc, rs, count;
    unsigned char rules[64], text[64] = "abc", cv[128] = { 0 }, hash[64];
    long text_len = 3, cv_len = 128, hash_len = 32;
    long bad_counts[] = { -1, 65, 1000000, LONG_MAX, LONG_MIN };
    long bad_lengths[] = { -1, LONG_MAX, LONG_MIN, 1L << 40 };

    keywords(rules, &count, "SHA-256 ONLY");
    hash_call(&rc, &rs, &count, rules, &text_len, text, &cv_len, cv, &hash_len, hash);
    expect("CSNBOWH valid", rc, rs, 0, 0);

    for (unsigned i = 0; i < sizeof(bad_counts) / sizeof(bad_counts[0]); i++) {
        count = bad_counts[i];
        hash_call(&rc, &rs, &count, rules, &text_len, text, &cv_len, cv, &hash_len, hash);
        expect("CSNBOWH bad rule_array_count", rc, rs, 8, 35);
    }
    count = 2;
    for (unsigned i = 0; i < sizeof(bad_lengths) / sizeof(bad_lengths[0]); i++) {
        long bad = bad_lengths[i];
        hash_call(&rc, &rs, &count, rules, &bad, text, &cv_len, cv, &hash_len, hash);
        expect("CSNBOWH bad text_length", rc, rs, 8, 72);
        hash_call(&rc, &rs, &count, rules, &text_len, text, &bad, cv, &hash_len, hash);
        expect("CSNBOWH bad chaining_vector_length", rc, rs, 8, 72);
        if (bad < 0) {
            hash_call(&rc, &rs, &count, rules, &text_len, text, &cv_len, cv, &bad, hash);
            expect("CSNBOWH negative hash_length", rc, rs, 8, 72);
        }
    }

    /* Too small an output: 8/72 and the buffer untouched. */
    long small = 16;
    memset(hash, 0xEE, sizeof(hash));
    hash_call(&rc, &rs, &count, rules, &text_len, text, &cv_len, cv, &small, hash);
    expect("CSNBOWH hash_length 16 for SHA-256", rc, rs, 8, 72);
    if (hash[0] != 0xEE || small != 16) {
        printf("FAIL CSNBOWH wrote into too small a buffer\n");
        failures++;
    }

    /* NULL in each position of a valid call, one at a time. */
    void *args[10] = { &count, rules, &text_len, text, &cv_len, cv, &hash_len, hash };
    for (int i = 0; i < 8; i++) {
        void *a[8];
        memcpy(a, args, sizeof(a));
        a[i] = NULL;
        text_len = 3; cv_len = 128; hash_len = 32; count = 2;
        hash_call(&rc, &rs, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        expect_codes("CSNBOWH one NULL", rc, rs);
        if (rc == 0 && i != 3) {
            printf("FAIL CSNBOWH succeeded with parameter %d NULL\n", i);
            failures++;
        }
        a[i] = BAD;
        hash_call(&rc, &rs, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        expect_codes("CSNBOWH one unmapped", rc, rs);
        if (rc == 0) {
            printf("FAIL CSNBOWH succeeded with parameter %d unmapped\n", i);
            failures++;
        }
    }
}

static void short_buffers(void)
{
    long rc, rs, count;
    unsigned char *page = guarded();
    unsigned char cv[128] = { 0 }, hash[64];
    long text_len = 3, cv_len = 128, hash_len = 32;

    /* A rule array of one keyword at the end of the page, its count saying two. */
    unsigned char *rules = page + 4096 - 8;
    memcpy(rules, "SHA-256 ", 8);
    count = 2;
    hash_call(&rc, &rs, &count, rules, &text_len, (unsigned char *) "abc", &cv_len, cv,
              &hash_len, hash);
    expect("rule array shorter than its count", rc, rs, 8, 35);

    /* Text shorter than text_length. */
    unsigned char r2[24]; /* up to three keywords (AES ECB KEYIDENT below) */
    keywords(r2, &count, "SHA-256 ONLY");
    unsigned char *text = page + 4096 - 3;
    memcpy(text, "abc", 3);
    text_len = 100;
    hash_call(&rc, &rs, &count, r2, &text_len, text, &cv_len, cv, &hash_len, hash);
    expect("text shorter than text_length", rc, rs, 8, 72);

    /* An output buffer ending at the guard page with a length claiming more. */
    text_len = 3;
    hash_len = 64;
    hash_call(&rc, &rs, &count, r2, &text_len, (unsigned char *) "abc", &cv_len, cv,
              &hash_len, page + 4096 - 16);
    expect("output buffer shorter than hash_length", rc, rs, 8, 72);

    /* A key token buffer shorter than its length field, and a 64-byte key identifier
     * with only 32 bytes before the guard page. */
    unsigned char *key = page + 4096 - 32;
    memset(key, 0, 32);
    long key_len = 2500, zero = 0, block = 16, iv_len = 16, chain_len = 32;
    long clear_len = 16, cipher_len = 16;
    unsigned char iv[16] = { 0 }, chain[32] = { 0 }, clear[16] = { 0 }, cipher[16];
    keywords(r2, &count, "AES ECB KEYIDENT");
    CSNBSAE(&rc, &rs, NULL, NULL, &count, r2, &key_len, key, &zero, NULL, &block,
            &iv_len, iv, &chain_len, chain, &clear_len, clear, &cipher_len, cipher,
            &zero, NULL);
    expect("key token shorter than key_identifier_length", rc, rs, 8, 72);
    unsigned char kv[8];
    memcpy(kv, "AESTOKEN", 8);
    CSNBKTB(&rc, &rs, NULL, NULL, key, kv, &count, r2, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL);
    expect("64-byte key_token with 32 bytes readable", rc, rs, 8, 72);

    /* Outputs in read-only memory: 8/72, no crash. */
    unsigned char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long n = 16, no_key = 0;
    keywords(r2, &count, "RANDOM");
    CSNBRNGL(&rc, &rs, NULL, NULL, &count, r2, &no_key, NULL, &n, ro);
    expect("CSNBRNGL into read-only memory", rc, rs, 8, 72);
    munmap(ro, 4096);
    munmap(page, 8192);
}

#define THREADS 8
#define ROUNDS 200

static void *worker(void *arg)
{
    long *bad = arg;
    for (int i = 0; i < ROUNDS; i++) {
        long rc, rs, count = 2, text_len = 8, cv_len = 128, hash_len = 32;
        unsigned char rules[16], cv[128] = { 0 }, hash[32], text[8];
        memcpy(rules, "SHA-256 ONLY    ", 16);
        memcpy(text, &i, sizeof(i));
        memset(text + sizeof(i), 0, sizeof(text) - sizeof(i));
        hash_call(&rc, &rs, &count, rules, &text_len, text, &cv_len, cv, &hash_len, hash);
        if (rc != 0 || hash_len != 32)
            (*bad)++;
        long n = 32, no_key = 0;
        unsigned char random[32];
        memcpy(rules, "RANDOM  ", 8);
        count = 1;
        CSNBRNGL(&rc, &rs, NULL, NULL, &count, rules, &no_key, NULL, &n, random);
        if (rc != 0 || n != 32)
            (*bad)++;
    }
    return NULL;
}

static void threads(void)
{
    pthread_t t[THREADS];
    long bad[THREADS] = { 0 };
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, &bad[i]);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (bad[i]) {
            printf("FAIL thread %d: %ld calls failed\n", i, bad[i]);
            failures++;
        }
    }
}

/* "record create|read LABEL": DES key storage shared by processes. */
static void record(const char *op, const char *label)
{
    long rc, rs;
    unsigned char field[64], token[64];
    memset(field, ' ', sizeof(field));
    memcpy(field, label, strlen(label) > 64 ? 64 : strlen(label));
    if (strcmp(op, "create") == 0) {
        CSNBKRC(&rc, &rs, NULL, NULL, field);
        expect("CSNBKRC", rc, rs, 0, 0);
    } else {
        memset(token, 0xEE, sizeof(token));
        CSNBKRR(&rc, &rs, NULL, NULL, field, token);
        expect("CSNBKRR", rc, rs, 0, 0);
        if (rc == 0 && token[0] != 0x00) {
            printf("FAIL CSNBKRR: not the null token\n");
            failures++;
        }
    }
}

/* "fork": a call, a fork, calls in the child and the parent (the child opens its own
 * connection; the parent's keeps working). */
static void fork_both(void)
{
    threads();
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        failures++;
        return;
    }
    threads();
    if (child == 0)
        _exit(failures ? 1 : 0);
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("FAIL the forked child (status %d)\n", status);
        failures++;
    }
}

/* Workers that call verbs until told to stop, so that a fork catches them mid-call
 * (holding the library's locks). */
static volatile int stop_busy;

static void *busy(void *arg)
{
    long *bad = arg;
    while (!stop_busy) {
        long rc, rs, count = 1, n = 16, no_key = 0;
        unsigned char rules[8], random[16];
        memcpy(rules, "RANDOM  ", 8);
        CSNBRNGL(&rc, &rs, NULL, NULL, &count, rules, &no_key, NULL, &n, random);
        if (rc != 0)
            (*bad)++;
    }
    return NULL;
}

/* The child of a fork: a hash and a random number, exit status 0 when both worked. */
static void child_verbs(void)
{
    long rc, rs, count = 2, text_len = 3, cv_len = 128, hash_len = 32;
    unsigned char rules[16], cv[128] = { 0 }, hash[32];
    memcpy(rules, "SHA-256 ONLY    ", 16);
    hash_call(&rc, &rs, &count, rules, &text_len, (unsigned char *) "abc", &cv_len, cv,
              &hash_len, hash);
    if (rc != 0 || hash[0] != 0xba)
        _exit(2);
    long n = 8, no_key = 0;
    unsigned char random[8];
    memcpy(rules, "RANDOM  ", 8);
    count = 1;
    CSNBRNGL(&rc, &rs, NULL, NULL, &count, rules, &no_key, NULL, &n, random);
    _exit(rc == 0 && n == 8 ? 0 : 3);
}

#define BUSY_THREADS 4
#define BUSY_FORKS 200

/* Forks again and again while BUSY_THREADS threads call verbs: every child must complete
 * its verbs within 30 seconds (a lock a parent's thread held at the fork must not be
 * waited on in the child). A child still running then is killed and counted. */
static void fork_while_busy(void)
{
    pthread_t t[BUSY_THREADS];
    long bad[BUSY_THREADS] = { 0 };
    int hung = 0, failed = 0;
    stop_busy = 0;
    for (int i = 0; i < BUSY_THREADS; i++)
        pthread_create(&t[i], NULL, busy, &bad[i]);
    for (int i = 0; i < BUSY_FORKS; i++) {
        pid_t child = fork();
        if (child < 0) {
            perror("fork");
            failures++;
            break;
        }
        if (child == 0)
            child_verbs();
        int status = 0, waited = 0;
        while (waitpid(child, &status, WNOHANG) == 0) {
            if (++waited > 30000) {
                kill(child, SIGKILL);
                waitpid(child, &status, 0);
                hung++;
                break;
            }
            usleep(1000);
        }
        if (waited <= 30000 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
            failed++;
    }
    stop_busy = 1;
    for (int i = 0; i < BUSY_THREADS; i++) {
        pthread_join(t[i], NULL);
        if (bad[i]) {
            printf("FAIL busy thread %d: %ld calls failed\n", i, bad[i]);
            failures++;
        }
    }
    if (hung || failed) {
        printf("FAIL forks while busy: %d of %d children hung, %d failed\n", hung,
               BUSY_FORKS, failed);
        failures++;
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "threads") == 0) {
        threads();
    } else if (argc > 3 && strcmp(argv[1], "record") == 0) {
        record(argv[2], argv[3]);
    } else if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        fork_both();
        fork_while_busy();
    } else {
        every_verb();
        counts_and_lengths();
        short_buffers();
        threads();
    }
    printf("%s (%d failures)\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
