//! The session-level face-check policy, as a pure state machine.
//!
//! Each attempt is: liveness challenge, then one comparison of the best live
//! frame with the reference. A liveness failure ends the face path at once;
//! a mismatch allows a new attempt (with a new challenge) until
//! `max_attempts` is used, then the face path ends. The similarity is
//! computed and compared here and dropped: it never leaves this module, and
//! the outcome is only [`Outcome::Pass`] or [`Outcome::Fail`] with a
//! non-numeric [`FailReason`].

use super::embed::{cosine, Embedding};
use super::liveness::LivenessFailure;

/// The only thing the face check reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Live and matching the reference.
    Pass,
    /// The face path ended without a match; offer the other methods.
    Fail(FailReason),
}

/// Why the face path ended (no numbers, by design).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// Liveness failed (active challenge or passive signal).
    Liveness(LivenessFailure),
    /// The face did not match in any of the allowed attempts.
    NoMatch,
    /// The reference photo holds no usable face.
    NoReferenceFace,
    /// No usable live frame before the time limit.
    NoUsableFrame,
    /// The session was ended (citizen cancelled, screen timeout).
    Cancelled,
    /// An internal error (model failure); details are in the error log.
    Internal,
}

impl FailReason {
    /// Stable code for the order record and the UI.
    pub fn code(self) -> &'static str {
        match self {
            FailReason::Liveness(LivenessFailure::Timeout) => "face.fail.liveness_timeout",
            FailReason::Liveness(LivenessFailure::WrongAction) => "face.fail.liveness_wrong_action",
            FailReason::Liveness(LivenessFailure::NoMotion) => "face.fail.liveness_no_motion",
            FailReason::Liveness(LivenessFailure::Spoof) => "face.fail.liveness_spoof",
            FailReason::NoMatch => "face.fail.no_match",
            FailReason::NoReferenceFace => "face.fail.no_reference_face",
            FailReason::NoUsableFrame => "face.fail.no_usable_frame",
            FailReason::Cancelled => "face.fail.cancelled",
            FailReason::Internal => "face.fail.internal",
        }
    }
}

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Liveness passed: compare the best live frame now.
    Compare,
    /// Mismatch, attempts remain: start a new attempt with a new challenge.
    Retry {
        /// Attempts left including the next one.
        remaining: u8,
    },
    /// The face path is over.
    Done(Outcome),
}

/// An event the current state does not allow (a runtime bug, not a citizen
/// action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Disallowed {
    /// Comparison before liveness passed in this attempt.
    #[error("comparison before liveness passed")]
    CompareBeforeLiveness,
    /// Liveness reported twice in one attempt.
    #[error("liveness already passed in this attempt")]
    LivenessTwice,
    /// The session already has an outcome.
    #[error("the face session is already decided")]
    AlreadyDecided,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    AwaitingLiveness,
    ReadyToCompare,
    Done(Outcome),
}

/// One citizen session's face-check policy.
#[derive(Debug, Clone)]
pub struct FaceSession {
    state: State,
    attempts_used: u8,
    max_attempts: u8,
    threshold: f32,
}

impl FaceSession {
    /// A new session allowing `max_attempts` comparisons at `threshold`.
    pub fn new(max_attempts: u8, threshold: f32) -> Self {
        Self {
            state: State::AwaitingLiveness,
            attempts_used: 0,
            max_attempts: max_attempts.max(1),
            threshold,
        }
    }

    /// Comparisons made so far.
    pub fn attempts_used(&self) -> u8 {
        self.attempts_used
    }

    /// The outcome, once decided.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.state {
            State::Done(o) => Some(o),
            State::AwaitingLiveness | State::ReadyToCompare => None,
        }
    }

    /// Reports the liveness result of the current attempt.
    pub fn liveness(&mut self, result: Result<(), LivenessFailure>) -> Result<Step, Disallowed> {
        match (self.state, result) {
            (State::Done(_), _) => Err(Disallowed::AlreadyDecided),
            (State::ReadyToCompare, _) => Err(Disallowed::LivenessTwice),
            (State::AwaitingLiveness, Ok(())) => {
                self.state = State::ReadyToCompare;
                Ok(Step::Compare)
            }
            (State::AwaitingLiveness, Err(f)) => {
                Ok(self.finish(Outcome::Fail(FailReason::Liveness(f))))
            }
        }
    }

    /// Compares the live probe with the reference; the score is dropped here.
    pub fn compare(
        &mut self,
        probe: &Embedding,
        reference: &Embedding,
    ) -> Result<Step, Disallowed> {
        match self.state {
            State::Done(_) => Err(Disallowed::AlreadyDecided),
            State::AwaitingLiveness => Err(Disallowed::CompareBeforeLiveness),
            State::ReadyToCompare => {
                self.attempts_used += 1;
                let matched = cosine(probe, reference) >= self.threshold;
                Ok(if matched {
                    self.finish(Outcome::Pass)
                } else if self.attempts_used >= self.max_attempts {
                    self.finish(Outcome::Fail(FailReason::NoMatch))
                } else {
                    self.state = State::AwaitingLiveness;
                    Step::Retry {
                        remaining: self.max_attempts - self.attempts_used,
                    }
                })
            }
        }
    }

    /// Ends the session early (cancel, timeout, no reference face, error).
    /// Keeps an earlier outcome if there is one.
    pub fn abort(&mut self, reason: FailReason) -> Outcome {
        match self.state {
            State::Done(o) => o,
            State::AwaitingLiveness | State::ReadyToCompare => {
                let o = Outcome::Fail(reason);
                self.state = State::Done(o);
                o
            }
        }
    }

    fn finish(&mut self, o: Outcome) -> Step {
        self.state = State::Done(o);
        Step::Done(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(v: &[f32]) -> Embedding {
        Embedding::normalised(v.to_vec())
    }

    #[test]
    fn face_decision_passes_on_match() {
        let mut s = FaceSession::new(3, 0.5);
        assert_eq!(s.liveness(Ok(())), Ok(Step::Compare));
        assert_eq!(
            s.compare(&e(&[1.0, 0.1]), &e(&[1.0, 0.0])),
            Ok(Step::Done(Outcome::Pass))
        );
        assert_eq!(s.outcome(), Some(Outcome::Pass));
        assert_eq!(
            s.compare(&e(&[1.0]), &e(&[1.0])),
            Err(Disallowed::AlreadyDecided)
        );
    }

    #[test]
    fn face_decision_three_mismatches_end_the_path() {
        let mut s = FaceSession::new(3, 0.5);
        let (a, b) = (e(&[1.0, 0.0]), e(&[0.0, 1.0]));
        for remaining in [2u8, 1] {
            assert_eq!(s.liveness(Ok(())), Ok(Step::Compare));
            assert_eq!(s.compare(&a, &b), Ok(Step::Retry { remaining }));
        }
        assert_eq!(s.liveness(Ok(())), Ok(Step::Compare));
        assert_eq!(
            s.compare(&a, &b),
            Ok(Step::Done(Outcome::Fail(FailReason::NoMatch)))
        );
        assert_eq!(s.attempts_used(), 3);
        assert_eq!(s.liveness(Ok(())), Err(Disallowed::AlreadyDecided));
    }

    #[test]
    fn face_decision_liveness_failure_ends_at_once() {
        let mut s = FaceSession::new(3, 0.5);
        let out = s.liveness(Err(LivenessFailure::NoMotion));
        assert_eq!(
            out,
            Ok(Step::Done(Outcome::Fail(FailReason::Liveness(
                LivenessFailure::NoMotion
            ))))
        );
        assert_eq!(s.attempts_used(), 0);
        // Even after a mismatch, a later liveness failure ends the path.
        let mut s = FaceSession::new(3, 0.5);
        s.liveness(Ok(())).ok();
        s.compare(&e(&[1.0, 0.0]), &e(&[0.0, 1.0])).ok();
        assert!(matches!(
            s.liveness(Err(LivenessFailure::Spoof)),
            Ok(Step::Done(Outcome::Fail(_)))
        ));
    }

    #[test]
    fn face_decision_rejects_out_of_order_events() {
        let mut s = FaceSession::new(3, 0.5);
        assert_eq!(
            s.compare(&e(&[1.0]), &e(&[1.0])),
            Err(Disallowed::CompareBeforeLiveness)
        );
        s.liveness(Ok(())).ok();
        assert_eq!(s.liveness(Ok(())), Err(Disallowed::LivenessTwice));
        assert_eq!(
            s.abort(FailReason::Cancelled),
            Outcome::Fail(FailReason::Cancelled)
        );
        assert_eq!(
            s.abort(FailReason::Internal),
            Outcome::Fail(FailReason::Cancelled)
        );
        assert_ne!(FailReason::NoMatch.code(), FailReason::Cancelled.code());
    }
}
