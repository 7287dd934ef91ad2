/* A small C program that crashes (SIGSEGV) in a named function. crashflow's end-to-end
 * test builds it with -g, makes its symbols with Mozilla's dump_syms, runs it under
 * tests/native/crashdump (which writes a minidump of the crash with minidump-writer) and
 * checks that the processed crash names this function, this file and the marked line. */
#include <stdio.h>

struct account {
    long balance;
    char owner[32];
};

/* noinline: the crashing frame stays its own function at any optimisation level. */
__attribute__((noinline)) static void credit_account(struct account *account, long amount)
{
    account->balance += amount; /* crashflow-test: crashing line */
}

__attribute__((noinline)) void settle_payments(struct account *accounts, int count)
{
    for (int i = 0; i < count; i++)
        credit_account(&accounts[i], 100);
}

int main(int argc, char **argv)
{
    (void)argv;
    struct account *accounts = NULL; /* never allocated: the bug */
    printf("settling %d payment(s)\n", argc);
    fflush(stdout);
    settle_payments(accounts, argc);
    return 0;
}
