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

fn env() -> Result<Environment<'static>, ReportError> {
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
    for (name, text) in TEMPLATES {
        env.add_template(name, text)
            .map_err(|e| ReportError::Template {
                name: name.into(),
                message: format!("{e:#}"),
            })?;
    }
    Ok(env)
}

/// Renders a built-in template with `ctx`.
pub fn render<S: Serialize>(name: &str, ctx: &S) -> Result<String, ReportError> {
    let err = |e: minijinja::Error| ReportError::Template {
        name: name.into(),
        message: format!("{e:#}"),
    };
    let env = env()?;
    env.get_template(name)
        .map_err(err)?
        .render(minijinja::Value::from(minijinja::value::Serde(ctx)))
        .map_err(err)
}
