/* A small XML reader for the answers of AWS's query and REST-XML services
 * (CloudFormation, STS, S3 errors): a tree of elements, each with its
 * local name (namespace prefix dropped) and its character data with the
 * five entities, numeric references and CDATA decoded. Attributes are
 * read and dropped; a DOCTYPE (entity definitions) is refused. Bounded:
 * 64 levels, 1,000,000 elements. The parser is pure (tests/fuzz/fuzz_xml.c). */
#ifndef DDBMIG_XML_H
#define DDBMIG_XML_H

#include <stddef.h>

#include "ddbmig/common.h"

typedef struct xml_node xml_node;
struct xml_node {
    char *name;          /* local name */
    char *text;          /* the element's own character data, "" when none */
    size_t text_len;     /* strlen(text): &#0; is refused */
    xml_node *children;  /* first child element */
    xml_node *next;      /* next sibling */
};

/* Parses one document; *out is its root element, owned by the caller
 * (xml_free). DM_ERR_PARSE with the byte offset for malformed input. */
DM_API int xml_parse(const char *text, size_t len, xml_node **out, dm_error *err);
DM_API void xml_free(xml_node *root);

/* The first child named name, or NULL. */
DM_API const xml_node *xml_child(const xml_node *n, const char *name);
/* Follows a path of child names separated by '/' ("Stacks/member"). */
DM_API const xml_node *xml_path(const xml_node *n, const char *path);
/* The text of the element at path, or NULL when there is none. */
DM_API const char *xml_path_text(const xml_node *n, const char *path);
/* The next sibling with the same name (for lists of <member>). */
DM_API const xml_node *xml_next_same(const xml_node *n);

#endif
