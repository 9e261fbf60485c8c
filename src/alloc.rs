//! Large allocations backed by transparent huge pages.
//!
//! argon2id works in 19 MiB of memory per hash. A fresh process faults that
//! in 4 KiB at a time: about 5,000 page faults, a third of the wall time of
//! `token verify`. Asking for huge pages (MADV_HUGEPAGE) before the memory
//! is first touched makes it a few dozen, where the kernel allows it
//! (`/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or
//! `always`); elsewhere the advice is ignored and nothing changes.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, advising huge pages for allocations of 4 MiB and
/// more.
pub struct HugePages;

const THRESHOLD: usize = 4 << 20;
const PAGE: usize = 4096;

fn advise(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len < THRESHOLD {
        return;
    }
    // madvise takes page-aligned ranges. Starting at the page that holds
    // the allocator's header (as glibc's own huge-page option does) keeps
    // the mapping in one piece; a split mapping got no huge pages here.
    let start = ptr as usize / PAGE * PAGE;
    let end = (ptr as usize + len).next_multiple_of(PAGE);
    if end > start {
        // SAFETY: the pages belong to the mapping of this allocation;
        // MADV_HUGEPAGE is advice only and never changes contents or
        // ownership. Failure is harmless.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

// SAFETY: every call is forwarded to `System` unchanged; `advise` only
// adds advice on memory that `System` just returned.
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() < THRESHOLD {
            return unsafe { System.alloc_zeroed(layout) };
        }
        // Advise before the memory is first touched: for over-aligned
        // layouts (argon2's blocks) System zeroes with a memset, which
        // would fault every page in before any advice.
        let ptr = unsafe { System.alloc(layout) };
        advise(ptr, layout.size());
        if !ptr.is_null() {
            // SAFETY: `ptr` is a fresh allocation of `layout.size()` bytes.
            unsafe { ptr.write_bytes(0, layout.size()) };
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        advise(new, new_size);
        new
    }
}
