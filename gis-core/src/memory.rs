//! The allocator's part in a long batch process's peak memory (imports of a million rows).
//!
//! glibc serves large blocks from its heaps once a freed one has raised its mapping
//! threshold, and keeps freed pages resident: a `Vec` grown by doubling to tens of megabytes
//! leaves its old buffers behind, counted in the process's peak. Batch commands map large
//! blocks directly (grown in place by `mremap`, returned at once when freed) and hand freed
//! pages back between phases. A server keeps glibc's defaults (its large blocks are short-lived
//! answers: a mapping each would cost a system call each).

/// Large blocks (≥ 256 KiB) are mapped on their own for the rest of the process.
pub fn map_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes glibc's allocation thresholds; any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Freed memory goes back to the system (between an import's phases).
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim only returns free pages of glibc's heaps to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}
