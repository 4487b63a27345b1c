//! Push notifications: the host posts a task's events to the webhooks its clients registered.

pub mod signing;
