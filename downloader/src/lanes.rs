//! Thread-per-core execution: one thread per core, each running its own single-threaded tokio
//! runtime (a lane), with transfers spread across the lanes.
//!
//! A transfer's request, its connection and its writes then stay on one thread. With tokio's
//! work-stealing runtime the same work hopped between threads on every response, and measured on
//! 1000 small files over loopback (see the README's benchmark) a run took about 1.4 times as long.
//! Clients keep one connection pool per lane ([`current`] says which), because a connection is
//! driven by the lane that opened it.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

thread_local! {
    static CURRENT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The lane the calling thread belongs to; `None` outside the lanes (planning, listing, report).
pub fn current() -> Option<usize> {
    CURRENT.get()
}

/// The running lanes; dropping this stops them once their tasks are done.
pub struct Lanes {
    handles: Vec<Handle>,
    next: AtomicUsize,
    shutdown: CancellationToken,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Lanes {
    /// One lane per core the process may use.
    pub fn per_core() -> std::io::Result<Lanes> {
        Lanes::start(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Starts `count` lanes (at least one).
    pub fn start(count: usize) -> std::io::Result<Lanes> {
        let shutdown = CancellationToken::new();
        let mut handles = Vec::new();
        let mut threads = Vec::new();
        for index in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let shutdown = shutdown.clone();
            let thread = std::thread::Builder::new()
                .name(format!("fetch-lane-{index}"))
                .spawn(move || {
                    CURRENT.set(Some(index));
                    runtime.block_on(shutdown.cancelled());
                })?;
            threads.push(thread);
        }
        Ok(Lanes {
            handles,
            next: AtomicUsize::new(0),
            shutdown,
            threads: Mutex::new(threads),
        })
    }

    /// How many lanes run.
    pub fn count(&self) -> usize {
        self.handles.len()
    }

    /// The lanes in turn: where the next task should go.
    pub fn next(&self) -> &Handle {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        &self.handles[index]
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        self.shutdown.cancel();
        // A lane cannot wait for itself; the threads end on their own once cancelled.
        if current().is_some() {
            return;
        }
        let threads = std::mem::take(&mut *self.threads.lock().expect("lane list lock"));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_go_round_the_lanes_and_know_their_lane() {
        let lanes = Lanes::start(2).unwrap();
        let seen: Vec<Option<usize>> = (0..4)
            .map(|_| {
                let (tx, rx) = std::sync::mpsc::channel();
                lanes
                    .next()
                    .spawn(async move { tx.send(current()).unwrap() });
                rx.recv().unwrap()
            })
            .collect();
        assert_eq!(seen, vec![Some(0), Some(1), Some(0), Some(1)]);
        assert_eq!(current(), None);
    }
}
