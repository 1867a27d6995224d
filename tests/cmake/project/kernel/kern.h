/* Next to the kernel: found from the generated copy through the kernel's directory. */
#define KERN_EXTRA 2
