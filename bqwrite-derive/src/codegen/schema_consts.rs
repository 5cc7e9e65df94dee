//! `#[bq(schema = "...")]`: `include_bytes!` of the file, so editing it
//! rebuilds the crate, and one `const` per field whose type only the
//! compiler knows, failing to compile when that type cannot write the
//! column's.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::ast::Row;
use crate::schema_file::SchemaFile;

pub(super) fn expand(row: &Row<'_>, file: Option<&SchemaFile>) -> TokenStream {
    let Some(file) = file else {
        return TokenStream::new();
    };
    let path = &file.path;
    let checks = row.fields.iter().filter_map(|field| {
        let column = file.unchecked_column(field)?;
        let column_type = column.ty?;
        let elem = field.elem;
        let field_type = match &field.with {
            Some(module) => quote_spanned! {field.elem_span()=>
                ::bqwrite::__private::with::field_type::<#elem, _>(#module::to_bq)
            },
            None => quote_spanned! {field.elem_span()=>
                <#elem as ::bqwrite::BqField>::__BQ_TYPE
            },
        };
        let variant = format_ident!("{}", variant(column_type));
        let message = format!(
            "column `{}` is {column_type} in `{}`, and the field's type `{}` does not write {column_type}",
            column.name,
            file.shown,
            quote!(#elem).to_string().replace(' ', ""),
        );
        Some(quote_spanned! {field.elem_span()=>
            const _: () = ::core::assert!(
                ::bqwrite::__private::schema_file::writes(
                    #field_type,
                    ::bqwrite::__private::schema_file::Type::#variant,
                ),
                #message
            );
        })
    });
    quote! {
        const _: &[u8] = ::core::include_bytes!(#path);
        #(#checks)*
    }
}

fn variant(ty: bqwrite_schema::Type) -> String {
    format!("{ty:?}")
}
