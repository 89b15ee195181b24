// Package phmail reads the emails of the Provisioning Hub (PH): the only
// channel that carries a deal's provisioning data and its contract PDF.
//
// [Parse] (or [Parser.Parse] with options from [NewParser]) takes one raw
// RFC 5322 message and returns a [Message]:
//
//   - MIME is decoded by jhillyerd/enmime (quoted-printable, base64,
//     declared charsets such as ISO-8859-1 or Windows-1252, multipart/
//     alternative and mixed); before enmime sees a message, its size, header
//     size, MIME depth and part count are bounded, and afterwards the
//     decoded size of all its parts (see [Limits]); a message past a limit
//     fails with a [*LimitError] naming it.
//   - The subject test: reply and forward prefixes (RE:, FW:, Fwd:, AW:, WG:,
//     repeated, any case) are removed, then the subject must start with
//     "To Be Provisioned" (any case). Other emails fail with [ErrNotPH],
//     which callers may ignore quietly. The DR number is the subject's last
//     10 characters and the company name stands between "Provisioned - "
//     and it.
//   - Labelled lines ("- ECC ID: 0001234567") are read from the plain-text
//     body, or from the HTML body's structure (table rows, paragraphs, list
//     items) when there is no usable text; labels match any case, any run of
//     spaces or tabs, bullets and bold markers, quoted (">") lines of
//     forwards included. A comma-separated value counts by its first item.
//   - Required fields (by default the ECC id and the DR number) that are
//     missing fail with one [*MissingFieldsError] listing every missing label.
//   - Attachments (attached or inline, including application/octet-stream
//     with a .pdf name) get a sanitized file name, their size and SHA-256.
//     Every file named, typed or shaped as a PDF is checked, and every check
//     ends in a verdict; a file that fails is kept with Usable=false and a
//     warning, never silently dropped:
//   - A PDF is a file with "%PDF-" in its first 1024 bytes after nothing
//     but text, a final startxref that points at a cross-reference section
//     and %%EOF with nothing after it, that pdfcpu reads and validates; an
//     archive or other container holding a PDF is not one.
//   - Active content makes a PDF unusable: JavaScript (actions, /JS, the
//     document's JavaScript), Launch, GoToR, GoToE, ImportData and
//     SubmitForm actions, embedded files, XFA forms and rich media. The
//     scan reads every parsed object (object streams, name trees, indirect
//     /S values and #-escaped names included), not the raw bytes. An
//     action chain or object tree deeper than the scan depth is unusable
//     too. Web links (URI actions) leave the file usable with a warning
//     that lists them, for the operator.
//   - Each check is bounded (see [Limits]): memory (pdfcpu's resource
//     limits come from it, and the streams' decoded size is measured before
//     pdfcpu decodes them), time per check and per message, the checks
//     running at once and the PDFs checked per message. A check that
//     reaches a bound makes the file unusable with a warning that starts
//     "could not be checked:". [ShowInline] is the one rule for which
//     stored files a browser may show: checked, usable PDFs only.
//
// Labels, the subject prefix and pattern, reply prefixes and required fields
// come from a [Config] whose zero value means the documented defaults, so a
// team with another PH template changes configuration, not code.
//
// [Message.Fields] returns the fields under the keys shared by bookbridge's
// packages (company_name, dr_number, ecc_id, sales_order_number,
// deploy_to_email, tenant_id, ims_org_id, ticket_link, message_id, subject,
// from, date).
//
// pdfcpu keeps a configuration directory under the user's home by default;
// phmail turns that off (pdfcpu's api.DisableConfigDir) the first time it
// checks a PDF, unless the program has already chosen a directory, so that
// parsing an email never writes files.
//
// The subpackage phmail/mailbox receives raw messages over SMTP and IMAP and
// hands them to a handler.
package phmail
