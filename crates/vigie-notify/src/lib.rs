//! Notifications (issue #15), the parts that need no I/O: how a webhook is signed
//! ([`signature`], the Standard Webhooks specification), where a notification may be
//! sent ([`destination`], the server-side request forgery rule) and when a failed
//! delivery is tried again ([`retry`]). The outbox, the delivery worker and the
//! channels' API build on them.

pub mod destination;
pub mod retry;
pub mod signature;
