//! The redirect rule: a redirect is followed only within the configured
//! host's origin (same scheme, host and port), for at most [`MAX_REDIRECTS`]
//! hops and never back to a URL already visited. Anything else ends the
//! call with [`Error::Redirect`](crate::Error::Redirect) before a byte goes
//! to the new location.
//!
//! reqwest's own following is switched off (`Policy::none`) so that each hop
//! is a request of the SDK's, under the same idle clock, and a failure on a
//! later hop names that hop's URL.

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode, Url};

use super::limits::IdleClock;
use crate::error::stop::{shown, RedirectReason, Stop, Waiting};

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 5;

/// Scheme, host and port: what must stay the same across a redirect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Origin {
    scheme: String,
    host: Option<String>,
    port: Option<u16>,
}

impl Origin {
    pub(crate) fn of(url: &Url) -> Self {
        Self {
            scheme: url.scheme().to_owned(),
            host: url.host_str().map(str::to_owned),
            port: url.port_or_known_default(),
        }
    }
}

/// Send `request`, following redirects the rule allows, each wait bounded
/// by `clock`. Returns the first response that is not a followed redirect.
///
/// `copy` is a copy of `request` (the caller keeps one to retry with), from
/// which the first redirect's request is made; without it (a body that
/// cannot be sent twice, none in this API) a redirect is returned as is.
/// Only a followed redirect copies a request, so a call that is not
/// redirected copies nothing here.
pub(crate) async fn send(
    client: &reqwest::Client,
    mut request: reqwest::Request,
    copy: Option<&reqwest::Request>,
    origin: &Origin,
    clock: &mut IdleClock,
) -> reqwest::Result<reqwest::Response> {
    let mut visited: Vec<Url> = Vec::new();
    // After a followed redirect: a copy of the request it made (`None`
    // inside when that could not be copied), which replaces `copy` and is
    // used up by the next redirect, so k hops copy k + 1 times.
    let mut hop_copy: Option<Option<reqwest::Request>> = None;
    loop {
        let url = request.url().clone();
        let response = clock
            .wait(client.execute(request), Waiting::Headers, &url)
            .await?;
        let Some(to) = target(&response) else {
            return Ok(response);
        };
        visited.push(url.clone());
        let refuse = |reason| Stop::Redirect {
            from: shown(&url),
            to: shown(&to),
            reason,
        };
        let stop = if Origin::of(&to) != *origin {
            Some(refuse(RedirectReason::OtherOrigin))
        } else if visited.contains(&to) {
            Some(refuse(RedirectReason::Loop))
        } else if visited.len() > MAX_REDIRECTS {
            Some(refuse(RedirectReason::TooManyHops))
        } else {
            None
        };
        if let Some(stop) = stop {
            return Err(stop.into_error(&url).await);
        }
        // A body that cannot be sent twice (none in this API) ends here.
        let next = match hop_copy.take() {
            Some(made) => made,
            None => copy.and_then(reqwest::Request::try_clone),
        };
        let Some(mut next) = next else {
            return Ok(response);
        };
        tracing::debug!(from = %shown(&url), to = %shown(&to), status = response.status().as_u16(), "following a same-origin redirect");
        if changes_to_get(response.status(), next.method()) {
            *next.method_mut() = Method::GET;
            *next.body_mut() = None;
            next.headers_mut().remove(CONTENT_TYPE);
            next.headers_mut().remove(CONTENT_LENGTH);
        }
        *next.url_mut() = to;
        hop_copy = Some(next.try_clone());
        request = next;
    }
}

/// Where a redirect response points, resolved against its URL; `None` for
/// any other response (or a redirect without a usable `Location`, which is
/// then returned as the unexpected status it is).
fn target(response: &reqwest::Response) -> Option<Url> {
    if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    response.url().join(location).ok()
}

/// 303, and 301/302 after a POST, continue as a GET without a body (as
/// browsers and reqwest do); 307 and 308 keep the method and the body.
fn changes_to_get(status: StatusCode, method: &Method) -> bool {
    match status.as_u16() {
        303 => *method != Method::HEAD,
        301 | 302 => *method == Method::POST,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        Origin::of(&Url::parse(url).unwrap())
    }

    #[test]
    fn same_origin_means_scheme_host_and_port() {
        let home = origin("https://app.datafold.com/prefix");
        assert_eq!(home, origin("https://app.datafold.com:443/other?x=1"));
        assert_eq!(home, origin("https://APP.datafold.com/"));
        for other in [
            "http://app.datafold.com/",
            "https://app.datafold.com:8443/",
            "https://evil.example/",
            "https://app.datafold.com.evil.example/",
        ] {
            assert_ne!(home, origin(other), "{other}");
        }
    }

    #[test]
    fn shown_urls_carry_no_credentials_or_query_values() {
        let url = Url::parse("https://user:pw@h.example:8443/p/?token=abc#frag").unwrap();
        assert_eq!(shown(&url), "https://h.example:8443/p/?…");
    }

    #[test]
    fn only_see_other_and_posts_after_301_302_become_gets() {
        assert!(changes_to_get(StatusCode::SEE_OTHER, &Method::PUT));
        assert!(changes_to_get(StatusCode::FOUND, &Method::POST));
        assert!(!changes_to_get(StatusCode::FOUND, &Method::PUT));
        assert!(!changes_to_get(
            StatusCode::TEMPORARY_REDIRECT,
            &Method::POST
        ));
        assert!(!changes_to_get(
            StatusCode::PERMANENT_REDIRECT,
            &Method::POST
        ));
    }
}
