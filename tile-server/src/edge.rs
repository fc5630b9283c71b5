//! What every answer passes, as one tower service ([`EdgeLayer`]) rather than a stack of
//! `from_fn` middlewares: each of those clones and boxes the service inside it per request,
//! which cost warm tiles a fifth of their throughput (bench/RESULTS.md, issue 10). In the
//! order the answer meets them, innermost first:
//! - the read server: with replicas, each request gets a read target
//!   ([`crate::load::Replicas::pick`]: a replica that is up, else the primary), and a read
//!   whose replica turns out unreachable is made again elsewhere;
//! - read-your-writes: a read carrying a write's WAL position waits for its replica (or goes
//!   to the primary past the bound) and runs with that position as its minimum, a write's
//!   answer gets its position ([`crate::consistency`]);
//! - `Vary: Authorization` and `private` for signed-in readers ([`crate::reader::vary`]);
//! - the development issuer's banner on HTML pages ([`crate::routes::signin::with_banner`]);
//! - the audit record of a 401/403 ([`crate::audit::record_denial`]);
//! - problem JSON for bare errors, with the request id and `Retry-After` on 503
//!   ([`crate::error::problem_for_bare`]);
//! - the request metrics ([`crate::metrics::Timing`]);
//! - CORS and the security headers ([`crate::security`]), which also answer preflights.
//!
//! The OAuth routes of the development issuer get only the last (their clients expect RFC 6749
//! error JSON, not problems).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::header;
use axum::response::Response;
use axum::BoxError;
use tower::{Layer, Service};

use crate::app::AppState;
use crate::{audit, consistency, error, metrics, reader, security};
use axum::response::IntoResponse;
use gis_core::db::lsn;

/// What an [`Edge`] does besides the security headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Duties {
    /// Everything listed in the module doc.
    All,
    /// CORS and the security headers only.
    SecurityOnly,
}

/// Wraps each route in an [`Edge`].
#[derive(Clone)]
pub struct EdgeLayer {
    state: Option<AppState>,
    duties: Duties,
}

impl EdgeLayer {
    /// Every duty, for bando's own routes.
    pub fn full(state: AppState) -> Self {
        EdgeLayer {
            state: Some(state),
            duties: Duties::All,
        }
    }

    /// CORS and security headers only (the development issuer's OAuth routes).
    pub fn security_only(state: AppState) -> Self {
        EdgeLayer {
            state: Some(state),
            duties: Duties::SecurityOnly,
        }
    }

    /// Metrics, problem JSON and `Vary` without a server state (routers built in tests):
    /// no CORS, security headers, banner or audit.
    pub fn stateless() -> Self {
        EdgeLayer {
            state: None,
            duties: Duties::All,
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: self.state.clone(),
            duties: self.duties,
        }
    }
}

/// Whether a request only reads (it can be made again on another server).
fn is_read(request: &Request) -> bool {
    use axum::http::Method;
    request.method() == Method::GET || request.method() == Method::HEAD
}

/// Runs `fut` reading from `target` ([`gis_core::db::route`]) and at least at `min`
/// ([`gis_core::db::lsn::with_min_lsn`]; 0: no minimum).
async fn scoped<F: Future>(target: Option<usize>, min: u64, fut: F) -> F::Output {
    use gis_core::db::route::with_read_target;
    match (target, min) {
        (None, 0) => fut.await,
        (None, m) => lsn::with_min_lsn(m, fut).await,
        (Some(t), 0) => with_read_target(t, fut).await,
        (Some(t), m) => with_read_target(t, lsn::with_min_lsn(m, fut)).await,
    }
}

/// The service of [`EdgeLayer`].
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    state: Option<AppState>,
    duties: Duties,
}

type EdgeFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S, B> Service<Request> for Edge<S>
where
    S: Service<Request, Response = axum::http::Response<B>> + Clone + Send + 'static,
    S::Error: Into<Infallible>,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> EdgeFuture {
        let state = self.state.clone();
        let seen = match state.as_ref().map(|s| security::before(s, &request)) {
            Some(security::Before::Preflight(answer)) => {
                return Box::pin(std::future::ready(Ok(answer)))
            }
            Some(security::Before::Pass(seen)) => Some(seen),
            None => None,
        };
        let all = self.duties == Duties::All;
        let timing = all.then(|| metrics::Timing::start(&request));
        let signed_in = request.headers().contains_key(header::AUTHORIZATION);
        let pending = (all && state.is_some()).then(|| audit::Pending::read(&request));
        let need = match (all, &state) {
            (true, Some(_)) => consistency::need(&request),
            _ => Ok(consistency::Need::Nothing),
        };
        // Several read servers: this request's target, and for a read a copy to try again on
        // another one when its replica turns out unreachable (the inner service is cloned
        // only then; without replicas nothing of this runs).
        let routed = state
            .as_ref()
            .filter(|st| all && st.pools.replica)
            .map(|st| st.pools.replicas.pick());
        let (request, again) = match routed {
            Some(_) if is_read(&request) => {
                let (parts, body) = request.into_parts();
                let copy = (parts.clone(), self.inner.clone());
                (Request::from_parts(parts, body), Some(copy))
            }
            _ => (request, None),
        };
        // `poll_ready` was called on `inner` for this call (tower's contract), and the future
        // does not hold `inner`: no clone. It runs only when awaited.
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answered = |r: Result<axum::http::Response<B>, S::Error>| match r {
                Ok(r) => r.map(Body::new),
                Err(e) => match e.into() {},
            };
            let mut min = 0;
            let mut target = routed;
            let mut response = match (need, &state) {
                (Err(e), _) => e.into_response(),
                (Ok(consistency::Need::Read(at)), Some(st)) => {
                    min = at;
                    if let Some(t) = target {
                        target = Some(consistency::target_for(st, t, at).await);
                    }
                    answered(scoped(target, min, answer).await)
                }
                (Ok(consistency::Need::Write), Some(st)) => {
                    let mut r = answered(scoped(target, 0, answer).await);
                    consistency::stamp(st, &mut r).await;
                    r
                }
                _ => answered(scoped(target, 0, answer).await),
            };
            // A read whose replica could not be reached: once a probe confirms it is down
            // (it is then left out), the read is made again on another replica or, for a
            // reader of its own write, on the primary.
            if let (Some(st), Some(t), Some((parts, inner))) = (&state, target, again) {
                let replicas = &st.pools.replicas;
                if t < replicas.len()
                    && response
                        .extensions()
                        .get::<error::DbUnreachable>()
                        .is_some()
                    && !replicas.probe(t).await
                {
                    let next = if min > 0 {
                        replicas.len()
                    } else {
                        replicas.pick()
                    };
                    tracing::info!(
                        replica = t + 1,
                        next = next + 1,
                        "read tried again elsewhere"
                    );
                    let retried = tower::ServiceExt::oneshot(
                        inner,
                        Request::from_parts(parts, Body::empty()),
                    );
                    response = answered(scoped(Some(next), min, retried).await);
                }
            }
            if all {
                reader::vary(signed_in, &mut response);
                if let Some(state) = &state {
                    if crate::routes::signin::wants_banner(state, &response) {
                        response = crate::routes::signin::with_banner(response).await;
                    }
                    if let Some(pending) = pending.filter(|_| audit::is_denial(response.status())) {
                        audit::record_denial(state, pending, &response).await;
                    }
                }
                response = error::problem_for_bare(response).await;
            }
            if let Some(timing) = timing {
                timing.finish(response.status().as_u16());
            }
            if let (Some(state), Some(seen)) = (&state, seen) {
                security::after(state, seen, &mut response);
            }
            Ok(response)
        })
    }
}
