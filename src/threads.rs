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

/// A job for [`OwnThread`].
type Job = Box<dyn FnOnce() + Send>;

/// A thread of its own for one kind of blocking work, run one job at a time. The
/// allocator keeps a heap per thread and gives little back: work that allocates a
/// lot at once (the SQLite index's jobs: an 8 MB hash each) on the blocking pool's
/// threads left that much resident in each of them; here, in one.
pub struct OwnThread {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl OwnThread {
    /// Starts the thread, named `name`; it ends when this is dropped.
    pub fn start(name: &str) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            // A job that panics fails alone (its caller gets `None`); the thread goes on.
            .spawn(move || {
                for job in queue {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the thread; its result, or `None` if the thread is gone (or `f`
    /// panicked).
    pub async fn run<T, F>(&self, f: F) -> Option<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::OwnThread;

    #[test]
    fn jobs_run_on_one_thread_and_a_panic_fails_alone() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let own = OwnThread::start("portico-test").unwrap();
        let name = || std::thread::current().name().map(str::to_owned);
        runtime.block_on(async {
            assert_eq!(
                own.run(name).await.flatten().as_deref(),
                Some("portico-test")
            );
            let failed: Option<()> = own.run(|| panic!("a job's own failure")).await;
            assert_eq!(failed, None);
            assert_eq!(own.run(|| 2 + 2).await, Some(4), "the thread goes on");
        });
    }
}
