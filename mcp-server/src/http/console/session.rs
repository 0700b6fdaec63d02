//! A signed-in browser: the HttpOnly cookie authenticates the console's own routes only
//! (the page and `/console/api/*`), never `/mcp` or `/api/*`, and every console POST
//! carries the page's CSRF token — an HMAC keyed by the token's secret (or, on a server
//! without tokens, by this process's random key), which a page on another origin cannot
//! read or compute.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use ring::hmac;

use crate::caller::{Caller, Scopes, Surface};
use crate::error::ErrorCode;
use crate::http::HttpState;
use crate::http::auth::{self, COOKIE};

/// The header a console POST carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-quantumstate-csrf";
const LABEL: &[u8] = b"quantumstate console csrf v1";

/// The secret in the console's cookie, if the request carries one.
pub fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_string)
        })
}

/// The CSRF token for a browser signed in with `secret` (None: a server without tokens).
pub fn csrf_token(state: &HttpState, secret: Option<&str>) -> String {
    match secret {
        Some(s) => csrf_for_secret(s),
        None => tag(&state.csrf_key[..]),
    }
}

/// The CSRF token of a browser signed in with the token `secret`.
pub fn csrf_for_secret(secret: &str) -> String {
    tag(secret.as_bytes())
}

fn tag(key: &[u8]) -> String {
    let t = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), LABEL);
    t.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The browser's caller, from its cookie (or `local` on a server without tokens).
pub fn browser_caller(state: &HttpState, headers: &HeaderMap) -> Option<(Caller, Option<String>)> {
    let tokens = &state.app.config().tokens;
    if tokens.is_empty() {
        let c = Caller {
            name: "local".into(),
            scopes: Scopes::WRITE.union(Scopes::APPROVE),
            surface: Surface::Console,
        };
        return Some((c, None));
    }
    let secret = cookie_secret(headers)?;
    let t = auth::find_token(tokens, &secret)?;
    let c = Caller {
        name: t.name.clone(),
        scopes: t.scopes,
        surface: Surface::Console,
    };
    Some((c, Some(secret)))
}

/// Guards the console's routes: a signed-in browser, and on POST its CSRF token. A
/// bearer token (a script, not ambient authority) needs no CSRF token.
pub async fn console_only(
    State(state): State<HttpState>,
    mut req: Request,
    next: Next,
) -> Response {
    if req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION)
    {
        return match auth::bearer_caller(&state, req.headers()) {
            Some(mut c) => {
                c.surface = Surface::Console;
                req.extensions_mut().insert(c);
                next.run(req).await
            }
            None => {
                let why = "the bearer token is not valid".to_string();
                auth::deny(
                    &state,
                    req,
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthorized,
                    "wrong_token",
                    why,
                )
                .await
            }
        };
    }
    let Some((caller, secret)) = browser_caller(&state, req.headers()) else {
        let why =
            "the console is signed in by its cookie: open the /?token=... link once".to_string();
        return auth::deny(
            &state,
            req,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "no_token",
            why,
        )
        .await;
    };
    if req.method() == Method::POST {
        let given = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let want = csrf_token(&state, secret.as_deref());
        if !auth::same_secret(given.as_bytes(), want.as_bytes()) {
            let why = "this console request lacks the page's CSRF token (or it is stale): reload the console".to_string();
            return auth::deny(
                &state,
                req,
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "bad_csrf",
                why,
            )
            .await;
        }
    }
    req.extensions_mut().insert(caller);
    if let Some(s) = secret {
        req.extensions_mut().insert(Signed(s));
    }
    next.run(req).await
}

/// The secret a console request was signed in with (for the page's CSRF token).
#[derive(Clone)]
pub struct Signed(pub String);
