"""Jinja kernel templates, installed as package data of gradc.templates."""
