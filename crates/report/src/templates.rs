//! The built-in templates (minijinja). Names ending in `.html` are auto-escaped.

use minijinja::Environment;
use serde::Serialize;

use crate::ReportError;

const TEMPLATES: [(&str, &str); 4] = [
    (
        "tearsheet.html",
        include_str!("../templates/tearsheet.html"),
    ),
    (
        "newsletter.html",
        include_str!("../templates/newsletter.html"),
    ),
    (
        "newsletter.txt",
        include_str!("../templates/newsletter.txt"),
    ),
    ("style.css", include_str!("../templates/style.css")),
];

/// An environment holding the template `name` and what it includes (the style sheet): the
/// others are not compiled.
fn env(name: &str) -> Result<Environment<'static>, ReportError> {
    let mut env = Environment::new();
    // A missing field is a bug in the model, not something to print as blank.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| ReportError::Template {
            name: "(syntax)".into(),
            message: format!("{e:#}"),
        })?;
    env.set_syntax(syntax);
    for (name, text) in TEMPLATES
        .into_iter()
        .filter(|(n, _)| *n == name || *n == "style.css")
    {
        env.add_template(name, text)
            .map_err(|e| ReportError::Template {
                name: name.into(),
                message: format!("{e:#}"),
            })?;
    }
    Ok(env)
}

/// [`render`] into a buffer of `capacity` bytes: a large document (a tear sheet's inline
/// charts) written once instead of grown and copied a dozen times.
pub fn render_sized<S: Serialize>(
    name: &str,
    ctx: &S,
    capacity: usize,
) -> Result<String, ReportError> {
    let err = |message: String| ReportError::Template {
        name: name.into(),
        message,
    };
    let env = env(name)?;
    let mut out = Vec::with_capacity(capacity);
    env.get_template(name)
        .map_err(|e| err(format!("{e:#}")))?
        .render_captured_to(
            minijinja::Value::from(minijinja::value::Serde(ctx)),
            &mut out,
        )
        .map_err(|e| err(format!("{e:#}")))?;
    String::from_utf8(out).map_err(|e| err(e.to_string()))
}

/// Renders a built-in template with `ctx`.
pub fn render<S: Serialize>(name: &str, ctx: &S) -> Result<String, ReportError> {
    render_sized(name, ctx, 16 << 10)
}
