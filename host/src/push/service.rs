//! The running push machinery of a host: its policy, its signer and the
//! background deliverer, started and stopped with the host.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::dispatch::Deliverer;
use super::signing::PushSigner;
use super::{PushPolicy, PushSettings};
use crate::store::Store;

/// Push notifications as a host runs them.
pub struct PushService {
    policy: Arc<PushPolicy>,
    signer: Option<Arc<PushSigner>>,
    stop: CancellationToken,
    task: Option<AbortOnDropHandle<()>>,
}

impl PushService {
    /// Checks `settings`, loads the signing keys and starts delivering
    /// what `store`'s outbox holds (including what an earlier run left).
    /// Must be called inside a tokio runtime.
    pub fn start(store: Arc<dyn Store>, settings: PushSettings) -> Result<PushService, String> {
        let signer = if settings.signing_keys.is_empty() {
            None
        } else {
            Some(Arc::new(PushSigner::load(&settings.signing_keys)?))
        };
        let policy = PushPolicy::new(settings)?;
        let deliverer = Deliverer::new(store, Arc::clone(&policy), signer.clone())?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(deliverer.run(stop.clone()));
        Ok(PushService {
            policy,
            signer,
            stop,
            task: Some(AbortOnDropHandle::new(task)),
        })
    }

    /// The policy the manager checks configs with.
    pub fn policy(&self) -> &Arc<PushPolicy> {
        &self.policy
    }

    /// The public keys of the signing keys (a JWK Set), if notifications
    /// are signed.
    pub fn jwks(&self) -> Option<serde_json::Value> {
        self.signer.as_ref().map(|s| s.jwks())
    }

    /// Stops taking notifications, lets the deliveries in flight finish
    /// (up to the delivery timeout) and records their outcomes.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
