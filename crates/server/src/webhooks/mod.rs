//! Webhook deliveries: signing (Standard Webhooks) and the deliverer that drains the outbox.

pub mod deliverer;
pub mod signature;
