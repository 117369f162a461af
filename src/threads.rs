//! Threads of background work (exports): they yield the CPU to serving requests.
//! And the process's memory pages: small ones only.

/// How much lower than the serving threads background work runs (`nice` steps).
const BACKGROUND_NICE: libc::c_int = 10;

/// Lowers the calling thread's CPU priority for the rest of its life (Linux: a
/// thread's own nice value; unprivileged, and it cannot be raised back, so call it
/// only on a thread of its own). Elsewhere, or if refused, it does nothing.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        let outcome = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BACKGROUND_NICE)
        };
        if outcome != 0 {
            tracing::debug!("could not lower a background thread's priority");
        }
    }
}

/// Keeps the process on small memory pages (Linux: no transparent huge pages). The
/// allocator gives each thread its own heap and asks for huge pages where the kernel
/// allows them (`madvise` mode, the usual default), so each of the ~70 threads a busy
/// server runs (workers, the blocking pool) held 2 MiB pages it barely used: 264 MB
/// of resident memory at 10M calls instead of ~80 MB, and no faster. Call it first
/// in `main`; it applies to pages touched from then on. If refused, it does nothing.
pub fn small_pages_only() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) takes plain integers and
        // touches no memory of ours.
        let outcome = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if outcome != 0 {
            tracing::debug!("could not turn transparent huge pages off");
        }
    }
}
