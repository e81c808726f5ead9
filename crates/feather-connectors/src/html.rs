//! HTML to text: title, visible text and links, with a real HTML parser
//! (`scraper`, on html5ever).

use scraper::{Html, Node, Selector};

/// What a page yields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The `<title>`, trimmed, if any.
    pub title: Option<String>,
    /// Visible text (no script, style or template content), whitespace collapsed.
    pub text: String,
    /// Every `a[href]` value, verbatim, in document order.
    pub links: Vec<String>,
}

/// Elements whose content is not visible text.
const INVISIBLE: &[&str] = &["script", "style", "noscript", "template", "head"];

/// Parses `source` and extracts title, text and links.
pub fn extract(source: &str) -> Extracted {
    let document = Html::parse_document(source);
    let title = Selector::parse("title").ok().and_then(|title| {
        document
            .select(&title)
            .next()
            .map(|t| collapse(&t.text().collect::<String>()))
            .filter(|t| !t.is_empty())
    });
    let mut text = String::new();
    for node in document.tree.root().descendants() {
        let Node::Text(chunk) = node.value() else {
            continue;
        };
        let hidden = node.ancestors().any(|a| {
            a.value()
                .as_element()
                .is_some_and(|e| INVISIBLE.contains(&e.name()))
        });
        if !hidden {
            text.push_str(chunk);
            text.push(' ');
        }
    }
    let links = Selector::parse("a[href]")
        .map(|anchor| {
            document
                .select(&anchor)
                .filter_map(|a| a.value().attr("href"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Extracted {
        title,
        text: collapse(&text),
        links,
    }
}

/// Collapses runs of whitespace to one space and trims.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_title_visible_text_and_links() {
        let page = extract(
            "<html><head><title> Hello\n World </title><style>p{}</style></head>\
             <body><h1>Intro</h1><script>var x = 1;</script>\
             <p>Some <b>bold</b>\n text.</p><a href=\"/next\">next</a><a>no href</a></body></html>",
        );
        assert_eq!(page.title.as_deref(), Some("Hello World"));
        assert_eq!(page.text, "Intro Some bold text. next no href");
        assert_eq!(page.links, ["/next"]);
    }

    #[test]
    fn broken_markup_still_yields_text() {
        let page = extract("<p>unclosed <div>tags & <b>stuff");
        assert_eq!(page.title, None);
        assert_eq!(page.text, "unclosed tags & stuff");
    }
}
