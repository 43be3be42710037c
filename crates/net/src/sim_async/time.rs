//! Virtual time for tasks: the simulation's clock, at nanosecond resolution.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tcpsim_tcp::{Duration, Instant};

use super::with_sim;

/// The current virtual time.
///
/// # Panics
///
/// Outside a running [`super::Scenario`].
pub fn now() -> Instant {
    with_sim(|s| s.now())
}

/// Waits until `deadline` in virtual time.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        token: None,
    }
}

/// Waits `d` of virtual time.
pub fn sleep(d: Duration) -> Sleep {
    sleep_until(now() + d)
}

/// A future that completes at a virtual instant.
#[derive(Debug)]
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    token: Option<u64>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        let token = self.token;
        let (done, token) = with_sim(|s| {
            s.with_sockets(|sockets, engine| {
                if engine.now >= deadline {
                    return (true, token);
                }
                match token {
                    Some(t) => {
                        sockets.rewake(t, cx.waker());
                        (false, Some(t))
                    }
                    None => (
                        false,
                        Some(sockets.sleep(engine, deadline, cx.waker().clone())),
                    ),
                }
            })
        });
        self.token = token;
        if done { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(t) = self.token {
            // A cancelled sleep must not keep the run alive until its deadline.
            super::try_with_sim(|s| s.apps.sockets.cancel_sleeper(t));
        }
    }
}

/// The deadline of a [`timeout`] passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct Elapsed;

/// Runs `fut` for at most `d` of virtual time.
pub fn timeout<F: Future>(d: Duration, fut: F) -> Timeout<F> {
    Timeout {
        fut: Box::pin(fut),
        sleep: sleep(d),
    }
}

/// A future with a virtual-time limit; see [`timeout`].
#[must_use = "a timeout does nothing unless awaited"]
pub struct Timeout<F> {
    fut: Pin<Box<F>>,
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The future first (biased), then the deadline.
        if let Poll::Ready(v) = self.fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}
