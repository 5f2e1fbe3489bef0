//! The console's pages, rendered on the server. Plain HTML forms with labels, readable
//! without scripts, at any width from a tablet up.

use maud::{DOCTYPE, Markup, html};
use vigie_proto::time::Timestamp;
use vigie_store::MlProject;

use crate::session::SignedIn;

/// The style of every page: system fonts, high contrast, focus always visible.
const STYLE: &str = "
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#111;background:#fafafa}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1.2rem;background:#0b3d5c;color:#fff}
header a{color:#fff}header form{margin-left:auto}
main{max-width:60rem;margin:1.5rem auto;padding:0 1.2rem}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input{font:inherit;padding:.4rem;width:100%;max-width:24rem;border:1px solid #555;border-radius:3px}
button{font:inherit;padding:.45rem 1rem;margin-top:1rem;background:#0b3d5c;color:#fff;border:0;border-radius:3px;cursor:pointer}
header button{margin:0;background:#fff;color:#0b3d5c}
main button{display:block}
:focus-visible{outline:3px solid #e69f00;outline-offset:2px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ccc}
.error{color:#9b1c1c;font-weight:600}.ok{color:#1d5e20;font-weight:600}
";

fn page(title: &str, signed_in: Option<&SignedIn>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Vigie" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    a href="/" { strong { "Vigie" } }
                    @if let Some(signed_in) = signed_in {
                        a href="/account" { (signed_in.user.email) " (" (signed_in.user.role) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(signed_in.session.csrf_token);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A page that only says something.
pub(crate) fn message(title: &str, text: &str) -> Markup {
    page(title, None, html! { p { (text) } })
}

/// The sign-in page.
pub(crate) fn login(csrf: &str, error: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { "E-mail address" }
                input #email type="email" name="email" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The organisation's projects.
pub(crate) fn home(signed_in: &SignedIn, projects: &[MlProject]) -> Markup {
    page(
        "Projects",
        Some(signed_in),
        html! {
            @if projects.is_empty() {
                p { "Your organisation has no ML project yet." }
            } @else {
                table {
                    thead { tr { th scope="col" { "ML project" } th scope="col" { "Created" } } }
                    tbody {
                        @for project in projects {
                            tr {
                                td { (project.code) }
                                td { (Timestamp::from_millis(project.created_at).to_string()) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The account page: the password change form, and how the last change went.
pub(crate) fn account(signed_in: &SignedIn, outcome: Option<Result<&str, &str>>) -> Markup {
    page(
        "Your account",
        Some(signed_in),
        html! {
            p { "Signed in as " strong { (signed_in.user.email) } ", " (signed_in.user.role) "." }
            h2 { "Change your password" }
            @match outcome {
                Some(Ok(note)) => p.ok role="status" { (note) },
                Some(Err(error)) => p.error role="alert" { (error) },
                None => {},
            }
            form method="post" action="/account/password" {
                input type="hidden" name="csrf" value=(signed_in.session.csrf_token);
                label for="current" { "Current password" }
                input #current type="password" name="current" autocomplete="current-password" required;
                label for="new" { "New password (12 characters at least)" }
                input #new type="password" name="new" autocomplete="new-password" minlength="12" required;
                button type="submit" { "Change password" }
            }
        },
    )
}
