//! Threads of background work (exports): they yield the CPU to serving requests.

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
