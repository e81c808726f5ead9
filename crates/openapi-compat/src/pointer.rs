//! JSON pointers (RFC 6901) for naming places in a document.

/// Escapes one reference token of a JSON pointer (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Appends one token to a pointer.
pub(crate) fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape_pointer_token(token))
}

/// Appends an array index to a pointer.
pub(crate) fn index(pointer: &str, position: usize) -> String {
    format!("{pointer}/{position}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_slashes_and_tildes() {
        assert_eq!(child("/paths", "/v1/a~b/{id}"), "/paths/~1v1~1a~0b~1{id}");
        assert_eq!(index("/x", 3), "/x/3");
    }
}
