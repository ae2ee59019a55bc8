; References the grammar's own tags query misses: its call pattern expects a qualified name,
; but a plain call (``validate($x)``) is a bare name; base classes; ``use`` imports.

(function_call_expression function: (name) @name) @reference.call
(base_clause (name) @name) @reference.class
(base_clause (qualified_name (name) @name)) @reference.class
(namespace_use_clause (qualified_name (name) @name)) @reference.import
(namespace_use_clause . (name) @name) @reference.import
