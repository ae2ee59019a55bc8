; References, which the grammar's own tags query does not capture.

(call_expression function: (identifier) @name) @reference.call
(type_identifier) @name @reference.type
