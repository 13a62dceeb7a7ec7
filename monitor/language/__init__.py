"""Reading the stories: finding the sentences about the treatment, classifying the claims, their
attributes and the study behind them; training and evaluating the models."""
