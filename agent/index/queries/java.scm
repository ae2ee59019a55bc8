; Definitions and references the grammar's own tags query leaves out: constructors, enums,
; records, imports and the types a file uses.

(constructor_declaration name: (identifier) @name) @definition.method
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.class
(import_declaration (scoped_identifier name: (identifier) @name)) @reference.import
(type_identifier) @name @reference.type
