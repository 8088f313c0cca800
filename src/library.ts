// Libraries loaded on first use (a provider's client SDK), so a CLI run that
// touches no such system never pays for loading one.

/**
 * The library a dynamic import brought. Bundled, a CommonJS library may
 * arrive as the namespace's default export; this hands it back either way.
 */
export function libraryOf<Library>(loaded: Library): Library {
  return (loaded as unknown as { default?: Library }).default ?? loaded;
}
