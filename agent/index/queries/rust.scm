; What the grammar's own tags query leaves out: trait methods without a body, path calls
; (``Config::load()``), ``use`` imports and the types a file uses.

(declaration_list (function_signature_item name: (identifier) @name) @definition.method)
(call_expression function: (scoped_identifier name: (identifier) @name)) @reference.call
(use_declaration argument: (scoped_identifier name: (identifier) @name)) @reference.import
(use_list (identifier) @name) @reference.import
(use_list (scoped_identifier name: (identifier) @name)) @reference.import
(use_as_clause path: (identifier) @name) @reference.import
(use_as_clause path: (scoped_identifier name: (identifier) @name)) @reference.import
(type_identifier) @name @reference.type
