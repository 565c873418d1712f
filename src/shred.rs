//! Secure deletion of a file: overwrite it in place, then unlink it. (Being built.)
