"""The dashboard from a source checkout: ``streamlit run app.py`` (installed: ``genmodel dashboard``)."""

from genmodel.interfaces.dashboard import main

main()
