//! Every state the flow enters, in order, to whoever subscribed: the
//! touchscreen and the screenshot writer need each screen, not only the
//! latest (a `watch` channel would skip the short "submitting" screen).
//!
//! Nothing is buffered for nobody: without subscribers a publish is a
//! no-op, and a subscriber that went away is dropped at the next publish.
//! States carry the session's personal data (masked in `Debug`, zeroized on
//! drop); each copy is dropped as soon as its subscriber has drawn it.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::flow::State;

/// A cloneable handle: the runner publishes, UIs subscribe.
#[derive(Debug, Clone, Default)]
pub struct StateFeed {
    subscribers: Arc<Mutex<Vec<mpsc::UnboundedSender<State>>>>,
}

impl StateFeed {
    /// A new subscriber, which receives every state published from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<State> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx);
        }
        rx
    }

    /// Sends `state` to every live subscriber.
    pub fn publish(&self, state: &State) {
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.retain(|tx| tx.send(state.clone()).is_ok());
        }
    }

    /// Drops every subscriber (their receivers then end).
    pub fn close(&self) {
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reaches_each_subscriber_in_order_and_closing_ends_them() {
        let feed = StateFeed::default();
        feed.publish(&State::new()); // nobody listens: nothing kept
        let mut a = feed.subscribe();
        let mut s = State::new();
        feed.publish(&s);
        s.elderly = true;
        feed.publish(&s);
        assert!(!a.try_recv().expect("first").elderly);
        assert!(a.try_recv().expect("second").elderly);
        drop(a);
        feed.publish(&s); // the dropped subscriber goes
        assert_eq!(feed.subscribers.lock().expect("lock").len(), 0);
        let mut b = feed.subscribe();
        feed.close();
        assert!(b.try_recv().is_err());
        assert!(b.blocking_recv().is_none());
    }
}
