//! Prometheus metrics: request counts and latencies per route, recorded by [`crate::edge`], and
//! database pool gauges sampled at scrape time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{Method, Request};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder's handle (installed on first use; metrics are process-global).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests build several apps in one
            // process); then this handle simply renders nothing of its own.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// One request's timing for `http_requests_total` and `http_request_duration_seconds`, labelled
/// by the route template (not the raw path; every unmatched path is `unmatched`) and the method
/// (a standard one, else `other`), so a client cannot add series by inventing paths or
/// methods. The metric handles are kept per worker thread and label set, so a request
/// allocates no label strings and does no registry lookup (warm tiles are served in
/// microseconds; this runs for each). Started and finished by [`crate::edge`].
pub struct Timing {
    start: Instant,
    method: &'static str,
    route: Option<MatchedPath>,
}

impl Timing {
    /// Starts timing `request` (after routing: its route template is known).
    pub fn start(request: &Request<Body>) -> Self {
        Timing {
            start: Instant::now(),
            method: method_label(request.method()),
            route: request.extensions().get::<MatchedPath>().cloned(),
        }
    }

    /// Records the answer's status and the time taken.
    pub fn finish(self, status: u16) {
        let Timing {
            start,
            method,
            route,
        } = self;
        let route = route.as_ref().map_or("unmatched", |p| p.as_str());
        HANDLES.with(|handles| {
            let mut handles = handles.borrow_mut();
            let by_labels = match handles.get_mut(route) {
                Some(m) => m,
                None => handles.entry(route.to_string()).or_default(),
            };
            let (counter, histogram) = by_labels.entry((method, status)).or_insert_with(|| {
                let labels = [
                    ("method", method.to_string()),
                    ("route", route.to_string()),
                    ("status", status.to_string()),
                ];
                (
                    metrics::counter!("http_requests_total", &labels),
                    metrics::histogram!("http_request_duration_seconds", &labels[..2]),
                )
            });
            counter.increment(1);
            histogram.record(start.elapsed().as_secs_f64());
        });
    }
}

/// The method's label: one of the methods of RFC 9110 and PATCH, else `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

type Handles =
    HashMap<String, HashMap<(&'static str, u16), (metrics::Counter, metrics::Histogram)>>;

thread_local! {
    static HANDLES: RefCell<Handles> = RefCell::new(HashMap::new());
}
