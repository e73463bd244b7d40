package postgres

import "embed"

// migrationFS holds the schema, one NNNN_description.sql file per version.
// Applied files must never change: deployed databases have run them.
//
//go:embed migrations/*.sql
var migrationFS embed.FS
