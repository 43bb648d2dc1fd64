//! Background work, all coordinated through the database so any number of instances can run
//! it side by side: the inbox writer (group commit), the inbox processor, the outbox dispatcher
//! and the reconciler.

pub mod dispatcher;
pub mod inbox_writer;
pub mod processor;
pub mod reconciler;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::Hub;

/// Tells workers to stop after their current step.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (sender, receiver) = watch::channel(false);
        (sender, Self(receiver))
    }

    /// Resolves when shutdown is requested (immediately if it already was).
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Starts the processor, the dispatcher and the reconciler.
pub fn spawn_all(hub: &Hub, shutdown: &Shutdown) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(processor::run(hub.clone(), shutdown.clone())),
        tokio::spawn(dispatcher::run(hub.clone(), shutdown.clone())),
        tokio::spawn(reconciler::run(hub.clone(), shutdown.clone())),
    ]
}
