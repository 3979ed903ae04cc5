//! Thread-per-core execution: one thread per core, each running its own single-threaded tokio
//! runtime (a lane), with transfers spread across the lanes.
//!
//! A transfer's request, its connection and its writes then stay on one thread. With tokio's
//! work-stealing runtime the same work hopped between threads on every response, and measured on
//! 1000 small files over loopback (see bench/NOTES.md) a run took about 1.4 times as long.
//! Clients keep one connection pool per lane ([`current`] says which), because a connection is
//! driven by the lane that opened it.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Per lane, how many [`Seat`]s are held there.
    busy: Arc<[AtomicUsize]>,
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
            busy: handles.iter().map(|_| AtomicUsize::new(0)).collect(),
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

    /// The lane with the fewest seats taken, and a seat there. Parts of big files are placed this
    /// way when they start, not when they are queued, so that a lane whose parts ran fast does not
    /// sit idle while the other still has a backlog.
    pub fn least_busy(&self) -> (&Handle, Seat) {
        let index = (0..self.handles.len())
            .min_by_key(|&i| self.busy[i].load(Ordering::Relaxed))
            .unwrap_or(0);
        (&self.handles[index], self.seat(index))
    }

    /// The calling thread's lane and a seat there, for work that must stay with a connection
    /// this lane drives; `None` outside the lanes.
    pub fn this_lane(&self) -> Option<(&Handle, Seat)> {
        let index = current().filter(|&i| i < self.handles.len())?;
        Some((&self.handles[index], self.seat(index)))
    }

    fn seat(&self, index: usize) -> Seat {
        self.busy[index].fetch_add(1, Ordering::Relaxed);
        Seat {
            busy: self.busy.clone(),
            index,
        }
    }
}

/// A task's place on a lane, counted by [`Lanes::least_busy`] until it is dropped.
pub struct Seat {
    busy: Arc<[AtomicUsize]>,
    index: usize,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.busy[self.index].fetch_sub(1, Ordering::Relaxed);
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

    #[test]
    fn seats_go_to_the_least_busy_lane_and_are_given_back() {
        let lanes = Lanes::start(3).unwrap();
        let lane_of = |handle: &Handle| {
            let (tx, rx) = std::sync::mpsc::channel();
            handle.spawn(async move { tx.send(current()).unwrap() });
            rx.recv().unwrap()
        };
        let (first, a) = lanes.least_busy();
        let (second, b) = lanes.least_busy();
        assert_ne!(lane_of(first), lane_of(second));
        let freed = lane_of(first);
        drop(a);
        let (third, _c) = lanes.least_busy();
        assert_eq!(lane_of(third), freed);
        drop(b);
        assert!(lanes.this_lane().is_none());
    }
}
