//! The load generator: `count` requests from `clients` concurrent tasks, each request timed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::ProgressBar;

/// What a load run measured.
pub(crate) struct Sample {
    pub count: usize,
    pub elapsed: Duration,
    /// Sorted, shortest first.
    pub latencies: Vec<Duration>,
}

impl Sample {
    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(index).copied().unwrap_or_default().as_secs_f64() * 1000.0
    }
}

/// Runs `one(i)` for every `i` in `0..count`, `clients` at a time; any failure ends the run.
pub(crate) async fn drive<F, Fut>(count: usize, clients: usize, bar: &ProgressBar, one: F) -> anyhow::Result<Sample>
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (next, one, bar) = (next.clone(), one.clone(), bar.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok::<_, anyhow::Error>(latencies);
                    }
                    let sent = Instant::now();
                    one(i).await?;
                    latencies.push(sent.elapsed());
                    bar.inc(1);
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for worker in workers {
        latencies.extend(worker.await.context("load task")??);
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    latencies.sort();
    Ok(Sample { count, elapsed, latencies })
}

/// An HTTP client keeping up to `clients` connections open to one host.
pub(crate) fn client(clients: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().pool_max_idle_per_host(clients).no_proxy().build()?)
}

/// Waits until `done` says so, polling; fails after `limit`.
pub(crate) async fn until<F, Fut>(limit: Duration, what: &str, mut done: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let started = Instant::now();
    loop {
        if done().await? {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(started.elapsed() < limit, "{what} did not finish within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
