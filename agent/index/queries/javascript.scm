; References the grammar's own tags query leaves out: imports and superclasses.

(import_specifier name: (identifier) @name) @reference.import
(class_heritage (identifier) @name) @reference.class
