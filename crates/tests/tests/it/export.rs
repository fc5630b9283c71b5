//! Tests of export (see the module's owner).
