//! Tests of query (see the module's owner).
