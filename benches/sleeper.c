/* The scale scenario's fleet program: pause() until a signal ends it, with no libc and no
 * dynamic loader, so 10,000 of them share three pages of one small file instead of the
 * hundreds of pages of sleep, libc and ld.so. On a host running DAMON (this VM's kdamond)
 * the kernel's rmap walks over pages mapped 10,000 times delay the exit of *any* process
 * mapping them by tens of ms, with no supervisor involved (benches/README.md, "the fleet
 * program"); this program keeps that kernel effect out of figures meant to be vigild's.
 * Built by benches/compare.py: gcc -static -nostdlib -O2. x86_64 and aarch64 only. */
#if defined(__x86_64__)
#define PAUSE() __asm__ volatile("mov $34, %%eax\n syscall" ::: "rax", "rcx", "r11", "memory")
#elif defined(__aarch64__)
/* aarch64 has no pause(2): ppoll(NULL, 0, NULL, NULL) blocks until a signal */
#define PAUSE()                                                                              \
    __asm__ volatile("mov x0, #0\n mov x1, #0\n mov x2, #0\n mov x3, #0\n mov x8, #73\n svc #0" \
                     ::: "x0", "x1", "x2", "x3", "x8", "memory")
#else
#error "sleeper.c: x86_64 or aarch64 only"
#endif

void _start(void) {
    for (;;)
        PAUSE();
}
