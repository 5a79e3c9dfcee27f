"""taoke's version, on the bottom floor: the registry and the reports stamp it without importing the
package face (which hands on the jobs, and so sits above every other module)."""

__version__ = "0.1.0"
